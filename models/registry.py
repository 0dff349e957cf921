"""A registry mapping model names to constructors and to the training recipe their paper gives.

    @register_model("mlnn", PAPER, recipe={"optimizer": "adam", "lr": 0.01, "epochs": 10, "batch_size": 128})
    def mlnn(num_classes=8): ...

Scripts, benchmarks and the command line build a model by name and read its paper's settings from here,
so each setting is written down once.
"""

_REGISTRY = {}


def register_model(name, paper, recipe=None):
    """Decorator: register ``builder(**kwargs) -> Module`` under ``name``, citing the paper it reproduces.

    ``recipe`` holds the paper's training settings (optimizer, lr, epochs, batch_size, ...).
    """
    def decorate(builder):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = {"builder": builder, "paper": paper, "recipe": dict(recipe or {}),
                           "summary": (builder.__doc__ or "").strip().split("\n")[0]}
        return builder
    return decorate


def _entry(name):
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def create_model(name, **kwargs):
    """Build the registered model ``name``; unknown names raise KeyError listing the known ones."""
    return _entry(name)["builder"](**kwargs)


def list_models():
    return sorted(_REGISTRY)


def model_info(name):
    """The paper, one-line summary and training recipe of a registered model."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in _entry(name).items() if k != "builder"}


def recipe(name):
    """A copy of the paper's training settings for model ``name``."""
    return dict(_entry(name)["recipe"])
