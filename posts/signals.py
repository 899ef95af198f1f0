"""What posts tell the apps above them, so posts never imports them (accounts → posts → …).

Both are sent once the change has committed, by an editor or the scheduler:
- `post_published(post_id, republished)`: the post is public; `republished` when it had been
  published before (sent back to draft, changed, approved again). Generation records how far the
  published text moved from its AI draft; publishing sends `post.published` / `post.updated`.
- `post_withdrawn(post_id, how)`: a published post stopped being public, `how` "unpublished"
  (back to draft) or "archived". Publishing sends `post.unpublished` / `post.archived`.
"""

from django.dispatch import Signal

post_published = Signal()
post_withdrawn = Signal()
