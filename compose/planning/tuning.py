"""Numbers the layout search works with. None of them is a rule of a layout (those are in
`compose.planning.rules`); they keep planned values a little inside each rule's bound and steer how the
search samples, repairs and restarts.
"""

from __future__ import annotations

import math

from compose.shapes import world

EPSILON = 1e-6  # planned values keep this much inside every bound, against rounding
NEAR_RADIUS = world.NEAR_GAP - 1e-4  # "near" pairs keep their Euclidean gap within this
BETWEEN_STEP = 0.005  # "strictly between": centres at least this far apart along the axis
PLANNED_ASPECT_JITTER = 0.08  # drawn inside ASPECT_JITTER, so the rule holds with room to spare
PLANNED_FRONT_OVERLAP = 0.30  # planned inside FRONT_MIN_OVERLAP
PLANNED_FRONT_VISIBLE = 0.30  # a strip of B (top, left or right) this deep stays uncovered
INSIDE_MAX_SCALE = 0.85  # A inside B is sized to at most this fraction of B's width and height
ON_WIDTH_SHARE = 0.6  # A on B is preferably sized to at most this fraction of B's width
TARGET_FILL = 0.5  # first attempts size objects to cover about this share of the usable canvas
TARGET_PULL = 0.7  # a drawn centre is this much the target, the rest uniform in its interval
WHOLE_BETWEEN_ATTEMPTS = 8  # first attempts lay out each "between" along one axis ...
WHOLE_BETWEEN_SHARE = 0.5  # ... later ones only this often, else each (b, c) pair on its own
SEPARATION_TRIES = 4  # phase 2 runs from one relaxed layout before the attempt restarts
NEAR_MAX_ANGLE = 0.9 * math.acos(world.MIN_GAP / NEAR_RADIUS)  # see separation.py
SHOWN_BONUS = 0.3  # phase 2 prefers the axis and order the relaxed layout shows by this much room
TABU = 4  # a choice changed in the last this many repairs is not changed again if avoidable
REPAIRS = 12  # phase 1 choices changed per attempt before it restarts with new sizes and targets
AXES = ("x", "y")
SIDES = ("top", "left", "right")
