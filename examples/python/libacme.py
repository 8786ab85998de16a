"""A small ctypes binding of libacme: enough to register an account and
issue a certificate with solvers written in Python.

It needs no compilation: it loads libacme.so from $LIBACME_PATH, else the
system's libacme (ctypes.util.find_library). Every call is checked and a
failure raises AcmeError with the library's message; handles are freed by
the `with` blocks or close().
"""
import ctypes
import ctypes.util
import os

_path = os.environ.get("LIBACME_PATH") or ctypes.util.find_library("acme")
if not _path:
    raise ImportError("libacme not found: install it or set LIBACME_PATH")
lib = ctypes.CDLL(_path)

c_char_p, c_int, c_void_p, c_size_t = ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t

ACME_OK = 0
ACME_ERR_DECLINED = -23
ACME_KEY_EC256 = 1


class AcmeError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{message} ({lib.acme_strerror(code).decode()}, {code})")
        self.code = code


def _sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


# The parts of the C API this binding uses (see include/acme/*.h).
_sig("acme_strerror", c_char_p, c_int)
_sig("acme_last_error", c_char_p)
_sig("acme_version_string", c_char_p)
_sig("acme_key_generate", c_int, ctypes.POINTER(c_void_p), c_int)
_sig("acme_key_free", None, c_void_p)
_sig("acme_free", None, c_void_p)
_sig("acme_provider_new", c_int, ctypes.POINTER(c_void_p), c_char_p, c_void_p)
_sig("acme_provider_free", None, c_void_p)
_sig("acme_provider_terms_of_service", c_char_p, c_void_p)
_sig("acme_account_register", c_int, ctypes.POINTER(c_void_p), c_void_p, c_void_p, c_void_p)
_sig("acme_account_url", c_char_p, c_void_p)
_sig("acme_account_status", c_char_p, c_void_p)
_sig("acme_account_free", None, c_void_p)
_sig("acme_solvers_new", c_int, ctypes.POINTER(c_void_p))
_sig("acme_solvers_free", None, c_void_p)
_sig("acme_order_new", c_int, ctypes.POINTER(c_void_p), c_void_p)
_sig("acme_order_add_identifier", c_int, c_void_p, c_char_p)
_sig("acme_order_issue", c_int, c_void_p, c_void_p, c_void_p)
_sig("acme_order_last_error", c_char_p, c_void_p)
_sig("acme_order_certificate_pem", c_char_p, c_void_p)
_sig("acme_order_free", None, c_void_p)
for _getter in ("type", "identifier_value", "token", "key_authorization", "http_path",
                "dns_txt_name", "dns_txt_value", "status"):
    _sig("acme_challenge_" + _getter, c_char_p, c_void_p)

PRESENT = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
WAIT = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
CLEANUP = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
_sig("acme_solvers_add", c_int, c_void_p, c_char_p, PRESENT, WAIT, CLEANUP, c_void_p)


class ProviderOptions(ctypes.Structure):
    """acme_provider_options as of its version 1. The struct carries its
    version, so the library reads only these fields, whatever it appends."""
    _fields_ = [("version", ctypes.c_uint), ("ca_bundle", c_char_p),
                ("connect_timeout_ms", ctypes.c_long), ("timeout_ms", ctypes.c_long),
                ("max_response_bytes", c_size_t), ("max_retry_after_s", ctypes.c_uint),
                ("max_retries", ctypes.c_uint), ("max_bad_nonce_retries", ctypes.c_uint),
                ("user_agent", c_char_p), ("log", c_void_p), ("log_userdata", c_void_p),
                ("log_level", c_int)]


class AccountOptions(ctypes.Structure):
    """acme_account_options as of its version 1 (see ProviderOptions)."""
    _fields_ = [("version", ctypes.c_uint), ("contacts", ctypes.POINTER(c_char_p)),
                ("contact_count", c_size_t), ("agree_tos", c_int), ("eab_kid", c_char_p),
                ("eab_hmac_key", c_char_p), ("eab_algorithm", c_char_p)]


def _check(rc, message=None):
    if rc != ACME_OK:
        raise AcmeError(rc, message or lib.acme_last_error().decode())


def _s(b):
    return b.decode() if b is not None else None


class Challenge:
    """The read-only view a solver gets (valid during the callback)."""

    def __init__(self, ptr):
        self._p = ptr

    def __getattr__(self, name):
        return _s(getattr(lib, "acme_challenge_" + name)(self._p))


class Key:
    def __init__(self, key_type=ACME_KEY_EC256):
        self.ptr = c_void_p()
        _check(lib.acme_key_generate(ctypes.byref(self.ptr), key_type))

    def close(self):
        lib.acme_key_free(self.ptr)


class Provider:
    def __init__(self, directory_url, ca_bundle=None):
        opts = ProviderOptions(version=1, ca_bundle=ca_bundle.encode() if ca_bundle else None)
        self.ptr = c_void_p()
        _check(lib.acme_provider_new(ctypes.byref(self.ptr), directory_url.encode(),
                                     ctypes.byref(opts)))

    @property
    def terms_of_service(self):
        return _s(lib.acme_provider_terms_of_service(self.ptr))

    def close(self):
        lib.acme_provider_free(self.ptr)


class Account:
    def __init__(self, provider, key, contacts=(), agree_tos=False):
        arr = (c_char_p * max(1, len(contacts)))(*[c.encode() for c in contacts])
        opts = AccountOptions(version=1, contacts=arr, contact_count=len(contacts),
                              agree_tos=1 if agree_tos else 0)
        self.ptr = c_void_p()
        _check(lib.acme_account_register(ctypes.byref(self.ptr), provider.ptr, key.ptr,
                                         ctypes.byref(opts)))

    url = property(lambda self: _s(lib.acme_account_url(self.ptr)))
    status = property(lambda self: _s(lib.acme_account_status(self.ptr)))

    def close(self):
        lib.acme_account_free(self.ptr)


class Solvers:
    """Python objects with present(ch) -> bool (False declines) and
    cleanup(ch), registered per challenge type in order of preference."""

    def __init__(self):
        self.ptr = c_void_p()
        self._keep = []  # the C callbacks must outlive the set
        _check(lib.acme_solvers_new(ctypes.byref(self.ptr)))

    def add(self, challenge_type, solver):
        def present(ch, _ud):
            try:
                return ACME_OK if solver.present(Challenge(ch)) else ACME_ERR_DECLINED
            except Exception:  # an exception must not unwind through C
                return -15  # ACME_ERR_CALLBACK

        def cleanup(ch, _ud):
            try:
                solver.cleanup(Challenge(ch))
            except Exception:
                pass

        cbs = (PRESENT(present), WAIT(0), CLEANUP(cleanup))
        self._keep.append(cbs)
        _check(lib.acme_solvers_add(self.ptr, challenge_type.encode(), cbs[0], cbs[1], cbs[2],
                                    None))

    def close(self):
        lib.acme_solvers_free(self.ptr)


def issue(account, names, solvers, cert_key):
    """Order a certificate for names; returns the chain as PEM text."""
    order = c_void_p()
    _check(lib.acme_order_new(ctypes.byref(order), account.ptr))
    try:
        for n in names:
            _check(lib.acme_order_add_identifier(order, n.encode()))
        rc = lib.acme_order_issue(order, solvers.ptr, cert_key.ptr)
        _check(rc, _s(lib.acme_order_last_error(order)))
        return _s(lib.acme_order_certificate_pem(order))
    finally:
        lib.acme_order_free(order)
