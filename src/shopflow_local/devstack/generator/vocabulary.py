"""Reference lists the generated values are drawn from (names, countries, categories...)."""

from __future__ import annotations

import numpy as np

# fmt: off
FIRST_NAMES = (
    "Anna", "James", "Maria", "Liam", "Sofia", "Noah", "Emma", "Lucas", "Olivia", "Mateo",
    "Mia", "Elias", "Chloé", "Hugo", "Léa", "Jonas", "Zoë", "Yuki", "Haruto", "Aiko",
    "Priya", "Arjun", "Fatima", "Omar", "Chen", "Wei", "Ingrid", "Lars", "Siobhán", "Seán",
    "Isabella", "Ethan", "Ava", "Mason", "Amelia", "Logan", "Harper", "Oliver", "Charlotte",
    "Jack", "Grace", "Leo", "Ella", "Max", "Nora", "Felix", "Clara", "Theo", "Ruby", "Kai",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martin",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Lefèvre", "Moreau",
    "Rossi", "Bianchi", "Fernández", "López", "Martínez", "O'Brien", "O'Connor", "Murphy",
    "Kelly", "Tanaka", "Suzuki", "Sato", "Watanabe", "Patel", "Sharma", "Singh", "Khan",
    "Nguyen", "Kim", "Lee", "Wang", "Li", "Zhang", "Andersson", "Johansson", "Nielsen",
    "Jansen", "de Vries", "van Dijk", "Silva", "Santos", "Kowalski", "Novak", "Taylor",
    "Wilson", "Anderson", "Thomas", "Moore", "Clark", "Lewis", "Walker", "Hall", "Young",
)


def ascii_local(name: str) -> str:
    """A name as it appears in an email local part: lower ASCII letters only."""
    table = str.maketrans("éèëöüóáíñãç", "eeeouoainac")
    return "".join(ch for ch in name.lower().translate(table) if "a" <= ch <= "z")


FIRST_EMAIL = tuple(ascii_local(n) for n in FIRST_NAMES)
LAST_EMAIL = tuple(ascii_local(n) for n in LAST_NAMES)

EMAIL_DOMAINS = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "gmx.de",
    "web.de", "orange.fr", "proton.me", "aol.com", "yahoo.co.jp", "live.co.uk",
)
EMAIL_DOMAIN_WEIGHTS = np.array([34, 10, 12, 8, 10, 5, 4, 4, 3, 2, 4, 4], dtype=np.float64)

COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "AU", "JP", "SE", "IE", "BR", "IN")
COUNTRY_WEIGHTS = np.array([34, 11, 10, 8, 5, 5, 4, 6, 5, 5, 2, 2, 2, 1], dtype=np.float64)
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD")
COUNTRY_CURRENCY = np.array(
    [CURRENCIES.index(c) for c in ("USD", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "CAD",
                                   "AUD", "JPY", "EUR", "EUR", "USD", "USD")],
    dtype=np.int8,
)
"""Index into CURRENCIES of the currency a customer of each country pays in."""

CATEGORIES = (
    "apparel", "shoes", "electronics", "home", "kitchen", "beauty", "sports", "toys",
    "books", "garden", "grocery", "office",
)
CATEGORY_NOUNS = (
    ("T-Shirt", "Hoodie", "Jeans", "Jacket", "Dress", "Sweater"),
    ("Sneakers", "Boots", "Sandals", "Loafers", "Running Shoes", "Slippers"),
    ("Headphones", "Charger", "Smart Speaker", "Keyboard", "Monitor", "Webcam"),
    ("Throw Pillow", "Lamp", "Rug", "Curtains", "Candle", "Mirror"),
    ("Chef Knife", "Frying Pan", "Kettle", "Blender", "Cutting Board", "Mug"),
    ("Face Cream", "Shampoo", "Lipstick", "Perfume", "Sunscreen", "Serum"),
    ("Yoga Mat", "Dumbbells", "Water Bottle", "Tennis Racket", "Bike Helmet", "Backpack"),
    ("Puzzle", "Building Blocks", "Plush Bear", "Board Game", "Toy Car", "Kite"),
    ("Novel", "Cookbook", "Travel Guide", "Notebook", "Comic", "Atlas"),
    ("Planter", "Hose", "Pruning Shears", "Bird Feeder", "Seeds", "Garden Gloves"),
    ("Coffee Beans", "Green Tea", "Olive Oil", "Dark Chocolate", "Honey", "Granola"),
    ("Desk Organizer", "Fountain Pen", "Stapler", "Desk Lamp", "Planner", "Chair Cushion"),
)
ADJECTIVES = (
    "Classic", "Organic", "Premium", "Essential", "Compact", "Vintage", "Ultra", "Eco",
    "Deluxe", "Everyday", "Pro", "Soft", "Nordic", "Urban", "Smart", "Travel",
)
BRANDS = (
    "Northwind", "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli",
    "Soylent", "Vandelay", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Litware",
)
COLORS = ("black", "white", "navy", "red", "green", "grey", "beige", "blue", "pink")
SIZES = ("XS", "S", "M", "L", "XL")

DEVICES = ("desktop", "mobile", "tablet")
DEVICE_WEIGHTS = np.array([0.44, 0.46, 0.10])
UTM_SOURCES = ("google", "facebook", "instagram", "newsletter", "tiktok", "bing")
UTM_SOURCE_WEIGHTS = np.array([0.38, 0.18, 0.14, 0.18, 0.07, 0.05])
REFERRERS = (
    "https://www.google.com/", "https://www.facebook.com/", "https://www.instagram.com/",
    "https://mail.google.com/", "https://t.co/", "https://www.bing.com/",
)
SEARCH_TERMS = (
    "gift", "sale", "black+sneakers", "coffee", "headphones", "yoga", "kids", "lamp",
    "summer+dress", "backpack",
)
SHOP_URL = "https://shop.example.com"
# fmt: on
