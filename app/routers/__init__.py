"""HTTP routers, one concern each; handlers parse, call one function and render."""
