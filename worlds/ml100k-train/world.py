"""Replay World over ML-100k (fetched at set-up with `wwm data fetch ml-100k`)."""
from wwm.songs.serve import serve_replay_world

serve_replay_world()
