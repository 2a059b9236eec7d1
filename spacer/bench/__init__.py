"""The benchmarks (spacer bench ...): commands that measure and print figures."""
