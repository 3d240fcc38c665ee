"""Live Avatar Studio: input checks, generation plans and backends behind the Gradio app."""

__version__ = "0.1.0"
