"""Local stand-ins for the cloud: generator, marketing API, AWS emulator, SMTP sink."""
