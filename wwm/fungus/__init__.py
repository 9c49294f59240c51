"""Fungus nodes' learning core (PyTorch, CPU): the next-item model, online learning from the
World's feedback, and safe weights files (safetensors only).  See docs/songs.md.

    from wwm.fungus.learner import FungusLearner
    from wwm.fungus.mind import FungusMind
    from wwm.fungus.weights import export_weights, import_weights, WeightsError
"""
