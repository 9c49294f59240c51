"""The fungus Mind as a shared Program 1: one model per item domain, learning from every run."""
from wwm.fungus.mind import serve

serve()
