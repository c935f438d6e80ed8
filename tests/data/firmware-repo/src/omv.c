int omv_init(void)
{
    return 1;
}
