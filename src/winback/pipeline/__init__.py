"""The processor: runs each logged event, in sequence order, through a list of stages."""
