"""Static page analysis: pages of loaded images, and the packed lower bound."""
