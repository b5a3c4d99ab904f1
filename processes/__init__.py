"""The process template language: models, validation, rendering. Pure: no I/O."""
