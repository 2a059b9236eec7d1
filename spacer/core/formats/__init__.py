"""The files between stages, typed and versioned: app facts, symbols, layout and slices,
verify results, report, manifest."""
