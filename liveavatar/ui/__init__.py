"""The Gradio-facing glue: handlers that turn widget values into library calls and back."""
