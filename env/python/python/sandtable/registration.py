"""Gymnasium ids for the built-in scenarios."""

from sandtable._native import builtin_scenarios

#: Built-in scenario names, as the Rust crate lists them.
SCENARIOS = tuple(builtin_scenarios())


def env_id(scenario: str) -> str:
    """The Gymnasium id of a built-in scenario: ``go_to_object`` -> ``sandtable/GoToObject-v0``."""
    return "sandtable/" + "".join(part.capitalize() for part in scenario.split("_")) + "-v0"


def register_builtins(gymnasium) -> None:
    """Register every built-in scenario (idempotent: ids already present are left alone)."""
    for name in SCENARIOS:
        gid = env_id(name)
        if gid in gymnasium.registry:
            continue
        gymnasium.register(
            id=gid,
            entry_point="sandtable.env:SandtableEnv",
            vector_entry_point="sandtable.vector:SandtableVectorEnv",
            kwargs={"scenario": name},
        )
