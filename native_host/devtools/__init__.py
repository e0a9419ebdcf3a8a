"""Developer tools: real browsers on throwaway profiles with the extension loaded (tests, `tracker2fa try`)."""
