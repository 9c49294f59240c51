"""The popularity baseline recommender Mind (song World and replay ml-100k); see README.md."""
from wwm.songs.serve import serve_baseline

serve_baseline("popularity")
