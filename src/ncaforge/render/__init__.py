"""Turning states into pictures: frames, animations, plots and the HTML report."""
