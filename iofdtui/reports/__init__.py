"""Text and Rich renderings of what the engine measured, shared by the CLI and the UI."""
