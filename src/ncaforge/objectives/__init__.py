"""Objectives: what a rollout should achieve, as a loss the trainer minimises."""
