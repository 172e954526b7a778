"""The example deployment, shipped as helpforce.example_config: the embedded default."""
