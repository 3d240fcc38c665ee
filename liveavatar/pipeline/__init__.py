"""The real Live Avatar model, one module per part (text, VAE, audio, scheduler, ...)."""
