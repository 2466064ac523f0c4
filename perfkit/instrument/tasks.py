"""Attributes private to the running task: a thread, or a greenlet inside one.

`threading.local` is per thread, so games run as greenlets on one thread would share one
"current move" and charge each other's calls. `TaskLocal` keys by `greenlet.getcurrent()`,
which is a greenlet while one runs and the thread's own main greenlet otherwise: one
object serves the thread scheduler and the greenlet scheduler alike.
"""

from __future__ import annotations

import weakref
from typing import Any

from greenlet import getcurrent


class TaskLocal:
    """Like `threading.local`: each task (thread or greenlet) sees its own attributes.

    A task's attributes go when the task does (weak keys), as a thread's do.
    """

    __slots__ = ("_by_task",)
    _by_task: weakref.WeakKeyDictionary[object, dict[str, Any]]  # task (thread's main greenlet or a greenlet) -> its attributes

    def __init__(self) -> None:
        object.__setattr__(self, "_by_task", weakref.WeakKeyDictionary())

    def _here(self) -> dict[str, Any]:
        task = getcurrent()
        slots = self._by_task.get(task)
        if slots is None:
            slots = self._by_task[task] = {}
        return slots

    def __getattr__(self, name: str) -> Any:
        try:
            return self._here()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._here()[name] = value


__all__ = ["TaskLocal"]
