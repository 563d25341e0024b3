"""Phone numbers (:mod:`.numbers`), the one destination policy (:mod:`.policy`) and the
reading of the DIDs carriers send (:mod:`.did`)."""
