"""Interventions on a running grid: damage, adversarial cells, global perturbations."""
