"""A registry mapping model names to constructors, so scripts and the CLI can build a model by name."""

_REGISTRY = {}


def register_model(name, paper):
    """Decorator: register ``builder(**kwargs) -> Module`` under ``name``, citing the paper it reproduces."""
    def decorate(builder):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = {"builder": builder, "paper": paper, "summary": (builder.__doc__ or "").strip()
                           .split("\n")[0]}
        return builder
    return decorate


def create_model(name, **kwargs):
    """Build the registered model ``name``; unknown names raise KeyError listing the known ones."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]["builder"](**kwargs)


def list_models():
    return sorted(_REGISTRY)


def model_info(name):
    """The paper and one-line summary of a registered model."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))}")
    return {k: v for k, v in _REGISTRY[name].items() if k != "builder"}
