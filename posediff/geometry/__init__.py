"""Geometry: joint sets (:mod:`.skeletons`) and cameras, projection and root estimation (:mod:`.cameras`)."""
