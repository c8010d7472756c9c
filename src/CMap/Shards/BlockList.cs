using CMap.Buffer;

namespace CMap;

/// <summary>
/// A shard's blocks of one eviction region that each hold one large entry [I8], as an intrusive doubly-linked list
/// through their headers: newest at the head, oldest at the tail, which is where eviction looks. Writer only, under
/// the shard lock.
/// </summary>
internal unsafe struct BlockList
{
    public ChunkHeader* Head;
    public ChunkHeader* Tail;

    internal void PushHead(ChunkHeader* h)
    {
        h->Prev = null;
        h->Next = Head;
        if (Head != null)
        {
            Head->Prev = h;
        }
        else
        {
            Tail = h;
        }

        Head = h;
    }

    internal void Unlink(ChunkHeader* h)
    {
        if (h->Prev != null)
        {
            h->Prev->Next = h->Next;
        }
        else
        {
            Head = h->Next;
        }

        if (h->Next != null)
        {
            h->Next->Prev = h->Prev;
        }
        else
        {
            Tail = h->Prev;
        }

        h->Prev = h->Next = null;
    }
}
