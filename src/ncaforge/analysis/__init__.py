"""What a trained NCA learned: growth, persistence and regeneration measured."""
