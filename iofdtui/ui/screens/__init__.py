"""The app's screens and modal forms, one per module."""
