"""Variants: attributes and their values, templates, the combination generator, pricing by surcharge
rules, bulk variant operations and the price/stock matrix. Plain Python, no Qt: the GUI, the CLI and
the server call these."""

from backoffice.services.variants import attributes, generator, image_assignment, operations, pricing, queries
from backoffice.services.variants.attributes import (
    AttributeInfo,
    TemplateInfo,
    ValueInfo,
    add_values,
    create_attribute,
    delete_template,
    get_template,
    list_attributes,
    list_templates,
    remove_attribute,
    remove_value,
    rename_attribute,
    rename_value,
    reorder_values,
    restore_attribute,
    save_template,
)
from backoffice.services.variants.generator import (
    GenerationPlan,
    GenerationRequest,
    GenerationResult,
    generate,
    plan_generation,
)
from backoffice.services.variants.sku_pattern import SkuPattern, sanitise
from backoffice.services.variants.operations import (
    Matrix,
    MatrixCell,
    ThresholdPlan,
    apply_bulk,
    apply_thresholds,
    apply_thresholds_to,
    bulk_operation,
    matrix,
    option_filter,
    plan_bulk,
    plan_thresholds,
    revert_thresholds,
    set_matrix_prices,
)
from backoffice.services.variants.pricing import (
    RepricePlan,
    RuleInfo,
    Surcharge,
    apply_reprice,
    apply_reprice_to,
    compute_price,
    delete_rule,
    list_rules,
    plan_reprice,
    set_base_price,
    set_price_override,
    set_rule,
)
from backoffice.services.variants.image_assignment import (
    ImagePlan,
    apply_image_assignment,
    apply_image_assignment_to,
    plan_image_assignment,
    revert_image_assignment,
)
from backoffice.services.variants.queries import Overview, ProductRow, find_products, overview

__all__ = [
    "AttributeInfo", "Overview", "ProductRow", "find_products", "overview", "queries", "GenerationPlan", "GenerationRequest", "GenerationResult", "Matrix", "MatrixCell", "RepricePlan",
    "RuleInfo", "SkuPattern", "Surcharge", "TemplateInfo", "ThresholdPlan", "ValueInfo", "add_values", "apply_bulk",
    "apply_reprice", "apply_thresholds", "attributes", "bulk_operation", "compute_price", "create_attribute",
    "delete_rule", "delete_template", "generate", "generator", "get_template", "list_attributes", "list_rules",
    "list_templates", "matrix", "operations", "option_filter", "plan_bulk", "plan_generation", "plan_reprice",
    "plan_thresholds", "pricing", "remove_attribute", "remove_value", "rename_attribute", "rename_value",
    "reorder_values", "restore_attribute", "revert_thresholds", "sanitise", "save_template", "set_base_price",
    "set_matrix_prices", "set_price_override", "set_rule", "ImagePlan", "apply_image_assignment", "image_assignment",
    "plan_image_assignment", "revert_image_assignment", "apply_image_assignment_to", "apply_reprice_to", "apply_thresholds_to",
]
