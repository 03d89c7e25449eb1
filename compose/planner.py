"""The layout planner's public names, kept at their old import path; the planner is `compose.planning`."""

from compose.planning import (
    ASPECT_JITTER, DEFAULT_MAX_ATTEMPTS, FRONT_MIN_OVERLAP, FRONT_MIN_VISIBLE, INSIDE_INSET, ON_BOTTOM_BAND,
    ON_CENTRE_INSET, OPEN_VOCABULARY_MAX_OBJECTS, SHAPE_NOUNS, SHAPES_DEPTH_READING, UNKNOWN_PREDICATE_READING,
    UnsatisfiableSceneError, aspect_ratio, is_shapes_scene, plan)

__all__ = [
    "ASPECT_JITTER", "DEFAULT_MAX_ATTEMPTS", "FRONT_MIN_OVERLAP", "FRONT_MIN_VISIBLE", "INSIDE_INSET",
    "ON_BOTTOM_BAND", "ON_CENTRE_INSET", "OPEN_VOCABULARY_MAX_OBJECTS", "SHAPE_NOUNS", "SHAPES_DEPTH_READING",
    "UNKNOWN_PREDICATE_READING", "UnsatisfiableSceneError", "aspect_ratio", "is_shapes_scene", "plan",
]
