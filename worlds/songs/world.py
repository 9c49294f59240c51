"""The song-request World as a Program 1 (see docs/songs.md and README.md here)."""
from wwm.songs.serve import serve_song_world

serve_song_world()
