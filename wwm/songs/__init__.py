"""The song-request World, the replay World, their metrics and the baseline recommenders
(numpy; this package never imports torch).

Modules: :mod:`catalog` (the Spotify tracks), :mod:`listeners` (simulated listeners, communities,
choice model), :mod:`request` (state/action text and XML forms, forgiving free-text matching),
:mod:`world` (the song World), :mod:`replay` (the replay World over an interaction log),
:mod:`metrics` (HR@k, NDCG@k), :mod:`mindkit` (item domains and the Mind adapter),
:mod:`baselines` (random, popularity, item-kNN), :mod:`serve` (entry points of the server
folders).  See docs/songs.md.
"""
