"""The papers' architectures, built only from minigrad, in a registry by name.

    from models import create_model, list_models
    model = create_model("mlnn")            # Pinto & Silva's multi-layer network
"""

from .registry import create_model, list_models, model_info, recipe, register_model
from . import dclnn, gounder, jane, pinto_silva, unet  # noqa: F401  (each registers its models)

__all__ = ["create_model", "list_models", "model_info", "recipe", "register_model"]
