"""Named crash points for the fault suite: the process kills itself (SIGKILL) at the point `CRASH_AT` names.

A kill -9 between two steps is the failure that atomic writes and claimed rows exist for; naming the steps
lets a test stop the real process exactly there instead of racing a timer. Unset, a point costs a dict lookup.
"""

from __future__ import annotations

import os
import signal

from bot.settings import get_settings


def crash_point(name: str) -> None:
    if get_settings().crash_at == name:
        os.kill(os.getpid(), signal.SIGKILL)
