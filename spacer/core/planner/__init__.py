"""The layout planner: a pure function of the fleet's facts, the options and the previous layout."""
