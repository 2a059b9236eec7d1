"""Running the pipeline: settings, loading the doit tasks, progress on the terminal."""
