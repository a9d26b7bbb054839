"""The LibCST layer: collectors and their batched traversal, fix edits, the path analysis of function
bodies. Besides each rule's own collector, nothing else in astack-lint imports libcst."""
