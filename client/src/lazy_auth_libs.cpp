// lazy_auth_libs.cpp: the GSSAPI and LDAP functions libpq calls, loaded on first use.
//
// The cronlock command links libpq statically. Linked as a shared library, libpq loads
// Kerberos and OpenLDAP (with GnuTLS, SASL and a dozen more) at every start, which is
// most of a short run's start-up, although they are used only for Kerberos
// authentication or encryption and for ldap:// lines in pg_service.conf. These
// definitions satisfy libpq's references; the first call opens the real library
// (the one the shared libpq would load, named by the build) and forwards every call to
// it. If the library cannot be opened, the calls fail as with an unusable service: no
// Kerberos credentials (libpq goes on without GSSAPI), or a failed LDAP lookup.
//
// Only libpq calls these; the command does not export them, so the real libraries
// keep their own definitions for their internal calls.
#define LDAP_DEPRECATED 1

#include <dlfcn.h>
#include <gssapi/gssapi.h>
#include <ldap.h>

namespace {

void *gssapi_library()
{
	static void *const handle = dlopen(CRONLOCK_GSSAPI_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	return handle;
}

void *ldap_library()
{
	static void *const handle = dlopen(CRONLOCK_LDAP_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	return handle;
}

template <typename T> T *symbol(void *library, const char *name)
{
	return library ? reinterpret_cast<T *>(dlsym(library, name)) : nullptr;
}

} // namespace

// The real function of the same name, looked up once.
#define REAL(library, name)                                                                 \
	([] {                                                                                   \
		static auto *const fn = symbol<decltype(name)>(library(), #name);                   \
		return fn;                                                                          \
	}())

// Call the real function, or answer `missing` when its library cannot be loaded.
#define FORWARD(library, name, missing, ...)                                                \
	do {                                                                                    \
		if (auto *fn = REAL(library, name))                                                 \
			return fn(__VA_ARGS__);                                                         \
		return missing;                                                                     \
	} while (0)

// libpq passes this name type to gss_import_name; the call swaps in the library's own.
static gss_OID_desc hostbased_service = {10, const_cast<char *>("\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04")};
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &hostbased_service;

extern "C" {

// GSSAPI: without the library there are no credentials, and libpq goes on without it.

OM_uint32 gss_acquire_cred(OM_uint32 *minor, gss_name_t name, OM_uint32 time_req, gss_OID_set mechs,
						   gss_cred_usage_t usage, gss_cred_id_t *cred, gss_OID_set *actual,
						   OM_uint32 *time_rec)
{
	*minor = 0;
	FORWARD(gssapi_library, gss_acquire_cred, GSS_S_UNAVAILABLE, minor, name, time_req, mechs, usage,
			cred, actual, time_rec);
}

OM_uint32 gss_import_name(OM_uint32 *minor, gss_buffer_t input, gss_OID type, gss_name_t *output)
{
	*minor = 0;
	if (type == GSS_C_NT_HOSTBASED_SERVICE)
		if (auto *real = symbol<gss_OID>(gssapi_library(), "GSS_C_NT_HOSTBASED_SERVICE"))
			type = *real;
	FORWARD(gssapi_library, gss_import_name, GSS_S_UNAVAILABLE, minor, input, type, output);
}

OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech, OM_uint32 *context,
							 gss_buffer_t text)
{
	static char missing[] = "GSSAPI library " CRONLOCK_GSSAPI_LIBRARY " not available";
	*minor = 0;
	*context = 0;
	text->value = missing;
	text->length = sizeof missing - 1;
	FORWARD(gssapi_library, gss_display_status, GSS_S_COMPLETE, minor, status, type, mech, context, text);
}

OM_uint32 gss_release_buffer(OM_uint32 *minor, gss_buffer_t buffer)
{
	*minor = 0;
	FORWARD(gssapi_library, gss_release_buffer, GSS_S_COMPLETE, minor, buffer);
}

OM_uint32 gss_init_sec_context(OM_uint32 *minor, gss_cred_id_t cred, gss_ctx_id_t *ctx, gss_name_t target,
							   gss_OID mech, OM_uint32 flags, OM_uint32 time_req,
							   gss_channel_bindings_t bindings, gss_buffer_t input, gss_OID *actual_mech,
							   gss_buffer_t output, OM_uint32 *ret_flags, OM_uint32 *time_rec)
{
	FORWARD(gssapi_library, gss_init_sec_context, GSS_S_UNAVAILABLE, minor, cred, ctx, target, mech, flags,
			time_req, bindings, input, actual_mech, output, ret_flags, time_rec);
}

OM_uint32 gss_delete_sec_context(OM_uint32 *minor, gss_ctx_id_t *ctx, gss_buffer_t output)
{
	FORWARD(gssapi_library, gss_delete_sec_context, GSS_S_UNAVAILABLE, minor, ctx, output);
}

OM_uint32 gss_release_cred(OM_uint32 *minor, gss_cred_id_t *cred)
{
	FORWARD(gssapi_library, gss_release_cred, GSS_S_UNAVAILABLE, minor, cred);
}

OM_uint32 gss_release_name(OM_uint32 *minor, gss_name_t *name)
{
	FORWARD(gssapi_library, gss_release_name, GSS_S_UNAVAILABLE, minor, name);
}

OM_uint32 gss_wrap(OM_uint32 *minor, gss_ctx_id_t ctx, int conf_req, gss_qop_t qop, gss_buffer_t input,
				   int *conf_state, gss_buffer_t output)
{
	FORWARD(gssapi_library, gss_wrap, GSS_S_UNAVAILABLE, minor, ctx, conf_req, qop, input, conf_state,
			output);
}

OM_uint32 gss_unwrap(OM_uint32 *minor, gss_ctx_id_t ctx, gss_buffer_t input, gss_buffer_t output,
					 int *conf_state, gss_qop_t *qop)
{
	FORWARD(gssapi_library, gss_unwrap, GSS_S_UNAVAILABLE, minor, ctx, input, output, conf_state, qop);
}

OM_uint32 gss_wrap_size_limit(OM_uint32 *minor, gss_ctx_id_t ctx, int conf_req, gss_qop_t qop,
							  OM_uint32 output_size, OM_uint32 *max_input)
{
	FORWARD(gssapi_library, gss_wrap_size_limit, GSS_S_UNAVAILABLE, minor, ctx, conf_req, qop,
			output_size, max_input);
}

// LDAP: without the library ldap_init fails, and libpq reports that the lookup failed.

LDAP *ldap_init(const char *host, int port)
{
	FORWARD(ldap_library, ldap_init, nullptr, host, port);
}

char *ldap_err2string(int err)
{
	static char missing[] = "LDAP library " CRONLOCK_LDAP_LIBRARY " not available";
	FORWARD(ldap_library, ldap_err2string, missing, err);
}

int ldap_set_option(LDAP *ld, int option, const void *value)
{
	FORWARD(ldap_library, ldap_set_option, LDAP_OPT_ERROR, ld, option, value);
}

int ldap_simple_bind(LDAP *ld, const char *who, const char *password)
{
	FORWARD(ldap_library, ldap_simple_bind, -1, ld, who, password);
}

int ldap_result(LDAP *ld, int msgid, int all, struct timeval *timeout, LDAPMessage **result)
{
	FORWARD(ldap_library, ldap_result, -1, ld, msgid, all, timeout, result);
}

int ldap_search_st(LDAP *ld, const char *base, int scope, const char *filter, char **attrs, int attrsonly,
				   struct timeval *timeout, LDAPMessage **result)
{
	FORWARD(ldap_library, ldap_search_st, LDAP_OTHER, ld, base, scope, filter, attrs, attrsonly, timeout,
			result);
}

int ldap_count_entries(LDAP *ld, LDAPMessage *chain)
{
	FORWARD(ldap_library, ldap_count_entries, -1, ld, chain);
}

LDAPMessage *ldap_first_entry(LDAP *ld, LDAPMessage *chain)
{
	FORWARD(ldap_library, ldap_first_entry, nullptr, ld, chain);
}

struct berval **ldap_get_values_len(LDAP *ld, LDAPMessage *entry, const char *attr)
{
	FORWARD(ldap_library, ldap_get_values_len, nullptr, ld, entry, attr);
}

void ldap_value_free_len(struct berval **values)
{
	if (auto *fn = REAL(ldap_library, ldap_value_free_len))
		fn(values);
}

int ldap_msgfree(LDAPMessage *message)
{
	FORWARD(ldap_library, ldap_msgfree, -1, message);
}

int ldap_unbind(LDAP *ld)
{
	FORWARD(ldap_library, ldap_unbind, -1, ld);
}

} // extern "C"
