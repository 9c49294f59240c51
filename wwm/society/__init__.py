"""Societies of Minds: several Minds, local or remote, composed into one Mind.

A society is a Mind made of Minds (MindM / MindAS in Humphrys' WWM draft): a
SOML-style file names the members and an arbitration rule (Humphrys 1997:
W-learning, Maximize Collective Happiness, Minimize the Worst Unhappiness;
majority vote; Borda and reciprocal rank fusion for ranked lists).  A gateway
serves a society folder (``kind = "society"``) like any Mind, so a World
cannot tell a society from a Mind, and a society can be a member of another.

Modules: :mod:`.soml` (society files), :mod:`.annotate` (``w`` and Q-values on
actions), :mod:`.rules` (the rules, pure functions), :mod:`.members` (one
member's link), :mod:`.society` (the engine), ``python3 -m wwm.society`` (the
Program 1).  See docs/society.md.
"""
from wwm.protocol.annotations import Annotated, AnnotationError, annotate, format_ranking, parse, strip
from wwm.society.soml import Member, SocietyFileError, Spec, load, society_folder
from wwm.society.society import NoLiveMember, Society

__all__ = ["Society", "NoLiveMember", "Spec", "Member", "load", "society_folder", "SocietyFileError",
           "annotate", "parse", "strip", "format_ranking", "Annotated", "AnnotationError"]
