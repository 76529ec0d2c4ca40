/*-------------------------------------------------------------------------
 * authority.c
 *	  Who may renew, release or check a lease (CONTRACT 1.7).
 *
 * A lease records the role that took it: the session's role when
 * cron_lock_try ran (SET ROLE counts; a SECURITY DEFINER caller of ours does
 * not change it), by name, so that it survives dump/restore.  That role,
 * its members and members of cron_lock_admin may act on the lease; anyone
 * else gets 42501 before the transaction can commit (heartbeat and check
 * before they write; release after its one UPDATE, which the error undoes;
 * no cron_lock_user can catch it without losing that subtransaction's
 * writes).  The role is read by the statements that read or update the
 * lease anyway (store.c), so the holder's check costs no statement.  A
 * lease or run taken before
 * cron_lock 1.1 recorded no role and keeps the 1.0 rule (any caller with
 * EXECUTE) until it ends.  No locks, no SPI; can raise.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

/*
 * OuterRoleName: the name of the session's role (outside our SECURITY
 * DEFINER functions), as recorded with a lease.  Looked up at each call,
 * so a role renamed or a SET ROLE since the last call is seen.
 */
text *
OuterRoleName(void)
{
	return cstring_to_text(GetUserNameFromId(GetOuterUserId(), false));
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
	text	   *mine;
	char	   *taker;
	Oid			taker_id;
	Oid			admin_id;

	if (role == NULL)
		return;
	/* The usual case: the holder itself. */
	mine = OuterRoleName();
	if (VARSIZE_ANY_EXHDR(role) == VARSIZE_ANY_EXHDR(mine) &&
		memcmp(VARDATA_ANY(role), VARDATA_ANY(mine), VARSIZE_ANY_EXHDR(role)) == 0)
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
