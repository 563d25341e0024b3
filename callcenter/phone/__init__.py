"""Phone numbers (:mod:`.numbers`) and the one destination policy (:mod:`.policy`)."""
