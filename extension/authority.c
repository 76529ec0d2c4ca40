/*-------------------------------------------------------------------------
 * authority.c
 *	  Who may renew, release or check a lease (CONTRACT 1.7).
 *
 * A lease records the role that took it: the session's role when
 * cron_lock_try ran (SET ROLE counts; a SECURITY DEFINER caller of ours does
 * not change it), by name, so that it survives dump/restore.  That role,
 * its members and members of cron_lock_admin may act on the lease; anyone
 * else gets 42501 before anything is written.  A lease or run taken before
 * cron_lock 1.1 recorded no role and keeps the 1.0 rule (any caller with
 * EXECUTE) until it ends.  No locks, no SPI; can raise.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

static Oid	named_role = InvalidOid;
static text *role_name = NULL;

static void
ForgetRoleName(Datum arg, int cacheid, uint32 hashvalue)
{
	named_role = InvalidOid;
}

/*
 * OuterRoleName: the name of the session's role (outside our SECURITY
 * DEFINER functions), as recorded with a lease.  Kept per backend until any
 * role changes; the result must not be modified or freed.
 */
text *
OuterRoleName(void)
{
	static bool callback_registered = false;
	Oid			me = GetOuterUserId();

	if (me != named_role)
	{
		char	   *name = GetUserNameFromId(me, false);

		if (!callback_registered)
		{
			CacheRegisterSyscacheCallback(AUTHOID, ForgetRoleName, (Datum) 0);
			callback_registered = true;
		}
		if (role_name != NULL)
			pfree(role_name);
		role_name = (text *) MemoryContextAlloc(TopMemoryContext, VARHDRSZ + strlen(name));
		SET_VARSIZE(role_name, VARHDRSZ + strlen(name));
		memcpy(VARDATA(role_name), name, strlen(name));
		named_role = me;
	}
	return role_name;
}

/*
 * RequireAuthority: return if the session's role may act on a lease taken
 * by role (NULL: taken before 1.1), else raise 42501 naming the job and the
 * role.  action completes "permission denied to ... job".
 */
void
RequireAuthority(const char *action, text *job, text *role)
{
	Oid			me = GetOuterUserId();
	char	   *taker;
	Oid			taker_id;
	Oid			admin_id;

	if (role == NULL)
		return;
	/* The usual case: the holder itself. */
	if (VARSIZE_ANY_EXHDR(role) == VARSIZE_ANY_EXHDR(OuterRoleName()) &&
		memcmp(VARDATA_ANY(role), VARDATA_ANY(OuterRoleName()),
			   VARSIZE_ANY_EXHDR(role)) == 0)
		return;
	taker = text_to_cstring(role);
	taker_id = get_role_oid(taker, true);
	if (OidIsValid(taker_id) && is_member_of_role(me, taker_id))
		return;
	admin_id = get_role_oid("cron_lock_admin", true);
	if (OidIsValid(admin_id) && is_member_of_role(me, admin_id))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s job \"%s\"", action, text_to_cstring(job)),
			 errdetail("Its lease was taken by role \"%s\"; only that role, its members and members of cron_lock_admin may renew, release or check it.",
					   taker),
			 errhint("Call it as the role that took the lease, or ask an administrator to use cron_lock_force_release.")));
}
