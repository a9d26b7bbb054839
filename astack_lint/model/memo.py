"""Memoizing the project model's questions: one decorator instead of a hand-written block per
function.

The model is asked the same questions many times in a run (what a name resolves to, which objects
an expression can be, which endpoints reach a function), and its answers never change within one
``Project``. A memoized function's first argument is the project (``self`` for a method); its
answers are kept in ``project.memo`` under the function's qualified name and a key built from the other
arguments (all of them, or what ``key`` returns).

Facts may refer to themselves (a name bound to itself, a factory that returns its own call): a
question asked again while it is being answered gets what ``guard`` returns for its arguments, and
``seed`` goes further for answers built in place (the app model): the seed object is stored first,
passed to the function to fill, and is what a re-entrant question sees. Without either, a
re-entrant question is answered again from scratch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def memoized(
    key: Optional[Callable[..., Any]] = None,
    guard: Optional[Callable[..., Any]] = None,
    seed: Optional[Callable[[], Any]] = None,
) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        tag = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(owner: Any, *args: Any, **kwargs: Any) -> Any:
            memo = owner.memo
            k = (tag, key(*args, **kwargs)) if key is not None else (tag, args, tuple(sorted(kwargs.items())))
            try:
                return memo[k]
            except KeyError:
                pass
            if seed is not None:
                value = memo[k] = seed()
                fn(owner, value, *args, **kwargs)
                return value
            if guard is not None:
                memo[k] = guard(*args, **kwargs)
            result = memo[k] = fn(owner, *args, **kwargs)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def empty_set(*_args: Any, **_kwargs: Any) -> set:
    return set()


def empty_list(*_args: Any, **_kwargs: Any) -> list:
    return []


def empty_dict(*_args: Any, **_kwargs: Any) -> dict:
    return {}


def none(*_args: Any, **_kwargs: Any) -> None:
    return None


def false(*_args: Any, **_kwargs: Any) -> bool:
    return False
