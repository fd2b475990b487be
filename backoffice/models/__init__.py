"""SQLAlchemy 2 typed models. One module per area; import them all here so ``Base.metadata`` is whole."""

from backoffice.models.base import Base, EditableMixin, utcnow
from backoffice.models.catalog import (
    Attribute,
    AttributeValue,
    Category,
    Product,
    ProductImage,
    ProductStatus,
    ProductTag,
    Variant,
    VariantOption,
    VariantStatus,
)
from backoffice.models.bundles import Bundle, BundleComponent, BundleOrderLine, BundlePricing, MixMatchKind, MixMatchRule  # noqa: F401
from backoffice.models.changesets import Changeset, ChangesetEntry
from backoffice.models.content import ContentSettings, ContentTemplate  # noqa: F401
from backoffice.models.connectors import (  # noqa: F401
    StoreApiCall,
    StoreConnection,
    StoreCursor,
    StoreFulfilmentLink,
    StoreLocationLink,
    StoreOrderLink,
    StoreOutboxEntry,
    StoreProductLink,
    StoreStockLink,
    StoreSyncRun,
    StoreVariantLink,
)
from backoffice.models.feeds import CHANGE_OPS, LOGGED_TABLES, ChangeLogEntry
from backoffice.models.images import ImageVersion, ProductImageVariant
from backoffice.models.jobs import JOB_RUN_STATES, JobLock, JobRun  # noqa: F401
from backoffice.models.inventory import INTERNAL_KINDS, Location, LocationKind, StockLevel, StockMove, StockOperation
from backoffice.models.people import (ApiRequest, AppliedOperation, AuditEntry, AuthToken, Role, RowAudit, Supplier,
                                     TokenKind, User, UserLocation)
from backoffice.models.product_templates import ProductTemplate  # noqa: F401
from backoffice.models.price_events import PriceEvent, PriceEventVariant  # noqa: F401
from backoffice.models.purchasing import (  # noqa: F401
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderState,
    PurchaseReceipt,
    SupplierItem,
)
from backoffice.models.reports import ReportRun, ReportSchedule, SavedReport  # noqa: F401
from backoffice.models.sales import (  # noqa: F401
    OPEN_STATES,
    Customer,
    Order,
    OrderLine,
    OrderReservation,
    OrderState,
    Return,
    ReturnLine,
    ReturnState,
    Shipment,
    ShipmentLine,
)
from backoffice.models.settings import StoreSetting
from backoffice.models.variants import (  # noqa: F401
    PriceRule,
    ProductBasePrice,
    SurchargeKind,
    VariantPriceOverride,
    VariantTemplate,
    VariantTemplateValue,
)
from backoffice.models.stock_documents import (
    CountState,
    LowStockDefault,
    StockAlert,
    StockCount,
    StockCountLine,
    Transfer,
    TransferLine,
    TransferState,
)

__all__ = [
    "RowAudit",
    "UserLocation",
    "TransferState",
    "TransferLine",
    "Transfer",
    "StoreSetting",
    "StockCountLine",
    "StockCount",
    "StockAlert",
    "LowStockDefault",
    "CountState",
    "ImageVersion",
    "ProductImageVariant",
    "ApiRequest", "AppliedOperation",
    "Attribute",
    "AttributeValue",
    "AuditEntry",
    "AuthToken",
    "Base",
    "Category",
    "CHANGE_OPS",
    "ChangeLogEntry",
    "Changeset",
    "ChangesetEntry",
    "Customer",
    "EditableMixin",
    "INTERNAL_KINDS",
    "LOGGED_TABLES",
    "Location",
    "LocationKind",
    "Order",
    "OrderLine",
    "Product",
    "ProductImage",
    "ProductStatus",
    "ProductTag",
    "Role",
    "StockLevel",
    "StockMove",
    "StockOperation",
    "Supplier",
    "TokenKind",
    "User",
    "Variant",
    "VariantOption",
    "VariantStatus",
    "utcnow",
]
