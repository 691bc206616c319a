"""Flywheel: the Cleanroom-ready tables pipeline as one Dagster code location."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Partitioned asset checks are a preview API; dagster is pinned to 1.13.x (setup.py) so the
# warning carries no news for this project. Other warnings stay visible.
warnings.filterwarnings("ignore", category=PreviewWarning)
warnings.filterwarnings("ignore", category=BetaWarning)
