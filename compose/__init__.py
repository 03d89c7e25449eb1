"""compose: compositional multi-object text-to-image generation.

parse -> plan -> generate -> check. Importing this package is cheap: heavy libraries (spaCy, torch,
diffusers) load only when a function that needs them is called.
"""

from compose.scene import Layout, Negation, ObjectGroup, Region, Relation, Scene

__all__ = ["Layout", "Negation", "ObjectGroup", "Region", "Relation", "Scene", "audit", "parse", "plan"]
__version__ = "0.1.0"


def parse(prompt: str) -> Scene:
    """Read a prompt into a typed scene (see compose.parsing)."""
    from compose.parsing import parse as _parse

    return _parse(prompt)


def plan(scene: Scene, seed: int = 0) -> Layout:
    """Place every object instance of a scene in a layout (see compose.planner)."""
    from compose.planner import plan as _plan

    return _plan(scene, seed=seed)


def audit(model=None, **options):
    """What a model gets wrong, concept by concept (see compose.bench.audit.audit)."""
    from compose.bench.audit import audit as _audit

    return _audit(model, **options)
