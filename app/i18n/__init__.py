"""Flask-Babel set-up: Chinese by default, English on request, chosen per user.

Pages speak the user's language; the JSON API always speaks English, because its
clients are programs that match on messages, not people.

Messages of services are built with ``lazy_text`` (imported as ``_l``): they are
translated when shown, in the language of whoever is shown them, so one exception
can become a Chinese page or an English API answer.
"""
from __future__ import annotations

from typing import Any

from babel import support
from flask import Flask, has_request_context, request, session
from flask_babel import Domain, get_locale, gettext
from flask_babel.speaklater import LazyString
from flask_login import current_user

from app.extensions import babel

SUPPORTED_LOCALES = ("zh_CN", "en")
API_PREFIX = "/api/"


def select_locale() -> str:
    """English for the API; otherwise the user's saved choice, else the session's, else Chinese."""
    supported = SUPPORTED_LOCALES
    if not has_request_context():  # CLI commands and background jobs speak the default language
        return "zh_CN"
    if request.path.startswith(API_PREFIX):
        return "en"
    if getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in supported:
        return chosen
    if request.args.get("lang") in supported:
        return request.args["lang"]
    return "zh_CN"


class LazyText(LazyString):
    """A lazily translated message that templates escape like any other text.

    flask_babel's ``LazyString`` passes itself off as markup (its ``__html__`` returns
    the text unescaped). That is harmless for fixed labels, but service messages carry
    user input (a code, a column header), which must never reach a page unescaped. Without
    ``__html__``, Jinja escapes the text, and JSON encoders refuse it instead of
    guessing: the API turns messages into ``str`` itself (``app.web``).
    """

    @property
    def __html__(self) -> Any:  # hasattr(text, "__html__") is False
        raise AttributeError("__html__")

    def __getattr__(self, attr: str) -> Any:
        if attr == "__html__":
            raise AttributeError(attr)
        return super().__getattr__(attr)

    def __reduce__(self) -> Any:  # pickled (e.g. by a cache) as the text it stands for
        return (str, (str(self),))


def lazy_text(string: str, **variables: Any) -> LazyText:
    """``lazy_gettext`` whose result is escaped in templates; import it as ``_l`` so that
    ``pybabel extract -k _l`` finds the message."""
    return LazyText(gettext, string, **variables)


def _interpolate(template: str, values: dict[str, Any]) -> str:
    return template % {key: str(value) for key, value in values.items()}


def lazy_format(template: str, **values: Any) -> LazyText:
    """An untranslated ``template`` (e.g. ``"%(field)s: %(message)s"``) around lazy messages,
    itself lazy so that the messages inside are translated when it is shown."""
    return LazyText(_interpolate, template, values)


class CatalogDomain(Domain):
    """Flask-Babel's message domain, finding catalogues under ``zh_CN`` as well.

    Babel reads "zh_CN" as zh_Hans_CN (it adds the likely script), so Flask-Babel looks for
    app/translations/zh_Hans_CN, while ``pybabel init -l zh_CN`` (and everyone else) keeps the
    catalogue under zh_CN. This domain tries language_TERRITORY first, then Babel's full name.
    """

    def get_translations(self) -> support.NullTranslations:
        locale = get_locale()
        if locale is None:  # outside any app or request context
            return support.NullTranslations()
        cache = self.get_translations_cache(None)
        key = (str(locale), self.domain[0])
        if key not in cache:
            names = [str(locale)]
            if locale.territory:
                names.insert(0, f"{locale.language}_{locale.territory}")
            translations = support.Translations()
            for dirname in self.translation_directories:
                catalog = support.Translations.load(dirname, names, self.domain[0])
                translations.merge(catalog)
                if hasattr(catalog, "plural"):  # merge() leaves the plural rule behind
                    translations.plural = catalog.plural
            cache[key] = translations
        return cache[key]


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Shanghai")
    # Flask-Babel builds its default domain lazily (a cached property); ours replaces it.
    babel.domain_instance = CatalogDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
