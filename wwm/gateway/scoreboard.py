"""The gateway's record of every run: one SQLite file."""
from __future__ import annotations

from wwm.protocol.rewards import score_value

class Scoreboard:
    """Every run, durably, in one SQLite file (WAL: CGI processes and workers share it).

    A run is written when it starts (outcome ``running``) and again when it
    ends, each in its own transaction, so a crash mid-run leaves a
    consistent record that says the run never finished.
    """

    COLUMNS = ("run", "server", "kind", "world", "minds", "steps", "score", "score_value",
               "start", "end", "outcome", "error", "source")

    def __init__(self, path: str):
        self.path = path

    def _db(self):
        import sqlite3  # deferred: only runs that start or end need it

        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, server TEXT, kind TEXT, "
                   "world TEXT, minds TEXT, steps INTEGER, score TEXT, score_value REAL, start REAL, "
                   "end REAL, outcome TEXT, error TEXT, source TEXT)")
        return db

    def record(self, rec: dict) -> None:
        """Insert or update the record of ``rec["run"]``."""
        row = {k: rec.get(k) for k in self.COLUMNS}
        row["score_value"] = score_value(row.get("score"))
        db = self._db()
        try:
            with db:
                db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(self.COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(self.COLUMNS))})", [row[k] for k in self.COLUMNS])
        finally:
            db.close()

    def list(self, world: str | None = None, limit: int = 100) -> list[dict]:
        """The newest runs first; only those of ``world`` (id or URL substring) if given."""
        db = self._db()
        try:
            sql, args = "SELECT * FROM runs", []
            if world:
                sql += " WHERE world LIKE ? ESCAPE '\\'"
                args.append("%" + world.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            sql += " ORDER BY start DESC LIMIT ?"
            args.append(int(limit))
            cur = db.execute(sql, args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
        finally:
            db.close()
